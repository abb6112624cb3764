"""Pure, differentiable DSP kernels behind the built-in effects.

One function per kernel, no state and no registry: the effect modules in
:mod:`console_effects` are thin wrappers that read their ParamSpecs and call
these, the same split as ``torchaudio.functional`` and ``torchaudio.transforms``.
"""
