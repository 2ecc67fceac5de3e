"""Every optimizer of ember-core; ember's built-in plugin registers each name in ``__all__``."""

from .adagrad import Adagrad
from .adam import Adam
from .adamw import AdamW
from .lion import Lion
from .rmsprop import RMSprop
from .sgd import SGD

__all__: list = ["SGD", "Adam", "AdamW", "Lion", "RMSprop", "Adagrad"]
