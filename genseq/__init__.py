"""genseq: Graves (2013), Generating Sequences With Recurrent Neural Networks.

The public Python API; the `genseq` command line is a thin shell over it.
"""

from genseq.errors import GenseqError
from genseq.nn.lstm import DeepLSTM, LSTMConfig
from genseq.text.corpus import Corpus, StreamBatches, Vocab, load_corpus
from genseq.text.evaluate import evaluate as evaluate_text
from genseq.text.model import TextModel, TextModelConfig
from genseq.text.sample import sample as sample_text
from genseq.train.checkpoint import load_model, save_model
from genseq.train.trainer import TrainConfig, Trainer

__version__ = "0.1.0"

__all__ = [
    "Corpus",
    "DeepLSTM",
    "GenseqError",
    "LSTMConfig",
    "StreamBatches",
    "TextModel",
    "TextModelConfig",
    "TrainConfig",
    "Trainer",
    "Vocab",
    "evaluate_text",
    "load_corpus",
    "load_model",
    "sample_text",
    "save_model",
]
