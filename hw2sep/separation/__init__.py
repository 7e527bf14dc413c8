"""Separation: running any registered model on waveforms (``runner``: one dispatch on what a model predicts, whole
tracks through the chunker of hw2sep.dsp.blocks) and the ``Separator`` (model + STFT + a reconstruction method).

May import: hw2sep.dsp, hw2sep.models, hw2sep.vocoder, hw2sep.common, hw2sep.names, hw2sep.errors.
"""
