"""Every layer class of ember-core; ember's built-in plugin registers each name in ``__all__``."""

from .activation import *  # noqa: F401,F403
from .activation import __all__ as _activation
from .attention import *  # noqa: F401,F403
from .attention import __all__ as _attention
from .conv import *  # noqa: F401,F403
from .conv import __all__ as _conv
from .dropout import *  # noqa: F401,F403
from .dropout import __all__ as _dropout
from .embedding import *  # noqa: F401,F403
from .embedding import __all__ as _embedding
from .linear import *  # noqa: F401,F403
from .linear import __all__ as _linear
from .loss import *  # noqa: F401,F403
from .loss import __all__ as _loss
from .normalization import *  # noqa: F401,F403
from .normalization import __all__ as _normalization
from .pooling import *  # noqa: F401,F403
from .pooling import __all__ as _pooling

__all__ = [*_activation, *_attention, *_conv, *_dropout, *_embedding, *_linear, *_loss, *_normalization, *_pooling]
