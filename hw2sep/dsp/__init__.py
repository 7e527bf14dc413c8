"""Signal processing: the STFT convention, the chunker, and every reconstruction of waveforms from magnitudes.

Owns: ``stft`` (STFTParams, stft/istft, frames of a block), ``blocks`` (the one chunker and the block sources),
``overlap_add`` (the one overlap-add), ``wiener`` (multichannel Wiener / EM), ``griffinlim`` (Griffin-Lim, librosa's
reference, the mel route), ``reconstruct`` (the one engine: a whole track is one block, streaming drives the same
engine) and ``methods`` (the one table of reconstruction methods; torch-free).
May import: hw2sep.names, hw2sep.errors, hw2sep.common. Never models, data or anything above.
"""
