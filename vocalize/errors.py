"""The exceptions vocalize raises. All derive from :class:`VocalizeError`.

They live in Python (not in the native module) so that catching them never loads the
inference engine; the native module raises these same classes.
"""

__all__ = [
    "VocalizeError",
    "InputError",
    "VoiceError",
    "NothingToSpeak",
    "AssetError",
    "ModelError",
    "RuntimeLibraryError",
    "InferenceError",
    "AudioDeviceError",
    "OutputError",
]


class VocalizeError(Exception):
    """Root of every error vocalize raises on purpose."""


class InputError(VocalizeError, ValueError):
    """The text, voice, speed or another argument cannot be used."""


class VoiceError(InputError):
    """The voice asked for cannot be used: an unknown name, a bad blend, a bad voice file."""


class NothingToSpeak(InputError):
    """The text has nothing the model could say: no letter or digit once markup, symbols and
    emoji are read (it may still hold pauses)."""


class AssetError(VocalizeError):
    """A model, voice or vocabulary file is missing, corrupt or of the wrong shape."""


class ModelError(AssetError):
    """The model file cannot be loaded as a Kokoro ONNX model."""


class RuntimeLibraryError(VocalizeError):
    """ONNX Runtime could not be found or loaded."""


class InferenceError(VocalizeError, RuntimeError):
    """ONNX Runtime failed while running the model."""


class AudioDeviceError(VocalizeError):
    """Audio cannot be played on this machine."""


class OutputError(VocalizeError):
    """The audio cannot be written where it was asked to go."""
