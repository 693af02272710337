"""Where the runtime library, the models and the voices come from, with no network by default.

- :mod:`.paths`: package data, the ONNX Runtime library, the cache and user-data folders
- :mod:`.models`: the embedded Kokoro model (assembled from its packages), its facts, and
  the identity that names a model's derived files (the optimized graph cache)
- :mod:`.split`: the encoder/decoder split of a Kokoro model and its fused operators
- :mod:`.voice_store`: voice files, the user's saved voices, specs and blends
- :mod:`.hub`: the Hugging Face cache and the explicit downloads
"""
