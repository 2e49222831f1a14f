"""Why a model could not be loaded: the errors ``load_model`` raises, each with a message that says what to do."""


class ModelUnavailableError(RuntimeError):
    """A model could not be loaded (hub unreachable, missing files); the message says what to do instead."""


class ModelNotFoundError(ModelUnavailableError, FileNotFoundError):
    """A model name that reads as a local path names no folder (caught as either base class)."""
