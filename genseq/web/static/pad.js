// The "write like me" pad: pointer events (mouse, pen, touch) -> strokes of [x, y] in CSS
// pixels, y down (the style-file format of `genseq write --style-from`).
"use strict";

class DrawingPad {
  constructor(canvas, onChange) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.strokes = [];
    this.current = null;
    this.onChange = onChange || (() => {});
    canvas.addEventListener("pointerdown", (e) => this.down(e));
    canvas.addEventListener("pointermove", (e) => this.move(e));
    for (const ev of ["pointerup", "pointercancel"]) {
      canvas.addEventListener(ev, (e) => this.up(e));
    }
    new ResizeObserver(() => this.resize()).observe(canvas);
    this.resize();
  }

  resize() {
    const r = this.canvas.getBoundingClientRect();
    const dpr = window.devicePixelRatio || 1;
    this.canvas.width = Math.max(1, Math.round(r.width * dpr));
    this.canvas.height = Math.max(1, Math.round(r.height * dpr));
    this.ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    this.redraw();
  }

  point(e) {
    const r = this.canvas.getBoundingClientRect();
    return [Math.round((e.clientX - r.left) * 10) / 10, Math.round((e.clientY - r.top) * 10) / 10];
  }

  down(e) {
    if (e.button !== undefined && e.button > 0) return;
    e.preventDefault();
    this.canvas.setPointerCapture(e.pointerId);
    this.current = [this.point(e)];
    this.strokes.push(this.current);
    this.redraw();
  }

  move(e) {
    if (!this.current) return;
    e.preventDefault();
    const events = e.getCoalescedEvents ? e.getCoalescedEvents() : [e];
    for (const ev of events.length ? events : [e]) {
      const p = this.point(ev);
      const last = this.current[this.current.length - 1];
      if (Math.hypot(p[0] - last[0], p[1] - last[1]) >= 1) this.current.push(p);
    }
    this.redraw();
  }

  up(e) {
    if (!this.current) return;
    this.current = null;
    this.onChange();
  }

  clear() { this.strokes = []; this.current = null; this.redraw(); this.onChange(); }
  undo() { this.strokes.pop(); this.current = null; this.redraw(); this.onChange(); }
  points() { return this.strokes.reduce((n, s) => n + s.length, 0); }

  redraw() {
    const { ctx, canvas } = this;
    const w = canvas.clientWidth, h = canvas.clientHeight;
    ctx.clearRect(0, 0, w, h);
    ctx.strokeStyle = "#dfe6f5";
    ctx.lineWidth = 1;
    for (const y of [h * 0.35, h * 0.65]) {
      ctx.beginPath(); ctx.moveTo(8, y); ctx.lineTo(w - 8, y); ctx.stroke();
    }
    ctx.strokeStyle = "#1b2a6b";
    ctx.lineWidth = 2.2;
    ctx.lineCap = ctx.lineJoin = "round";
    for (const s of this.strokes) {
      ctx.beginPath();
      ctx.moveTo(s[0][0], s[0][1]);
      if (s.length === 1) ctx.lineTo(s[0][0] + 0.1, s[0][1]);
      for (const [x, y] of s.slice(1)) ctx.lineTo(x, y);
      ctx.stroke();
    }
  }
}
window.DrawingPad = DrawingPad;
