"""genseq: Graves (2013), Generating Sequences With Recurrent Neural Networks.

The public Python API; the `genseq` command line (`genseq.cli`) is a thin shell over it.

    import genseq
    page = genseq.write("hello world", bias=1.0, seed=1)   # the shipped `synth` model
    page.save("hello.svg")

Importing genseq registers the model kinds of both domains (`genseq.train.registry`):
text, predict, synth, recog.
"""

from genseq.api import load, styles, write
from genseq.errors import GenseqError
from genseq.hand.page import Page
from genseq.hand.recognize.model import Recognizer
from genseq.hand.sample import HandModel
from genseq.hand.styles import Style
from genseq.nn.lstm import DeepLSTM, LSTMConfig
from genseq.text.corpus import Corpus, StreamBatches, Vocab, load_corpus
from genseq.text.evaluate import evaluate
from genseq.text.model import LanguageModel, TextModel, TextModelConfig
from genseq.text.sample import sample as sample_text
from genseq.text.task import TextTask
from genseq.train.checkpoint import load_model, save_model
from genseq.train.trainer import TrainConfig, Trainer

__version__ = "0.1.0"

evaluate_text = evaluate  # the name before 0.1's API: text evaluation

__all__ = [
    "Corpus",
    "DeepLSTM",
    "GenseqError",
    "HandModel",
    "LSTMConfig",
    "LanguageModel",
    "Page",
    "Recognizer",
    "StreamBatches",
    "Style",
    "TextModel",
    "TextModelConfig",
    "TextTask",
    "TrainConfig",
    "Trainer",
    "Vocab",
    "evaluate",
    "evaluate_text",
    "load",
    "load_corpus",
    "load_model",
    "sample_text",
    "save_model",
    "styles",
    "write",
]
