"""Activation checkpointing (``checkpoint_blocks``): the same loss, gradients and batch-norm statistics
as the plain model, for every registered model that has the option; and it only acts in training."""

import dataclasses

import pytest
import torch

from hw2sep import TARGETS
from hw2sep.training.losses import get_loss
from hw2sep.models import MODELS, build_model, model_config
from hw2sep.training.train import batch_loss

CHECKPOINTABLE = [name for name, entry in MODELS.items()
                  if "checkpoint_blocks" in {f.name for f in dataclasses.fields(entry.config_cls)}]


def _tiny(name: str, checkpointed: bool) -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model(name, model_config(name, **{**MODELS[name].tiny, "checkpoint_blocks": checkpointed})).train()


def _step(model, sources):
    """Loss and gradients of one training step, with the model's default loss on every target it estimates."""
    torch.manual_seed(1)  # dropout, if any, draws the same masks
    loss = batch_loss(model, sources, get_loss(model.default_loss), amp=False)
    loss.backward()
    return loss.detach(), {n: p.grad for n, p in model.named_parameters()}


def test_the_models_that_need_it_have_the_option():
    assert {"bsrnn", "dttnet", "lasaft"} <= set(CHECKPOINTABLE)


@pytest.mark.parametrize("name", CHECKPOINTABLE)
def test_checkpointed_and_plain_give_the_same_loss_gradients_and_statistics(name):
    sources = 0.1 * torch.randn(2, len(TARGETS), 2, 44100 // 2, generator=torch.Generator().manual_seed(2))
    plain, checkpointed = _tiny(name, False), _tiny(name, True)
    loss_plain, grads_plain = _step(plain, sources)
    loss_ckpt, grads_ckpt = _step(checkpointed, sources)
    torch.testing.assert_close(loss_ckpt, loss_plain, rtol=0, atol=1e-5)
    assert grads_plain.keys() == grads_ckpt.keys()
    for key, grad in grads_plain.items():
        assert grad is not None and grads_ckpt[key] is not None, key
        torch.testing.assert_close(grads_ckpt[key], grad, rtol=0, atol=1e-5, msg=key)
    # the recomputation in backward must not update batch-norm running statistics a second time
    buffers_plain, buffers_ckpt = dict(plain.named_buffers()), dict(checkpointed.named_buffers())
    for key, buffer in buffers_plain.items():
        torch.testing.assert_close(buffers_ckpt[key], buffer, rtol=0, atol=1e-6, msg=key)


@pytest.mark.parametrize("name", CHECKPOINTABLE)
def test_checkpointing_keeps_fewer_tensors_for_backward(name):
    """Counted with saved-tensor hooks: the checkpointed graph holds less for backward than the plain one."""
    sources = 0.1 * torch.randn(1, len(TARGETS), 2, 44100 // 2, generator=torch.Generator().manual_seed(3))
    saved = {}
    for flag in (False, True):
        model, total = _tiny(name, flag), [0]

        def pack(tensor, total=total):
            total[0] += tensor.numel() * tensor.element_size()
            return tensor

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
            loss = batch_loss(model, sources, get_loss(model.default_loss), amp=False)
        saved[flag] = total[0]
        loss.backward()
    assert saved[True] < 0.7 * saved[False], saved


@pytest.mark.parametrize("name", CHECKPOINTABLE)
def test_evaluation_is_not_checkpointed_and_unchanged(name):
    plain, checkpointed = _tiny(name, False).eval(), _tiny(name, True).eval()
    x = plain.example_input(nb_frames=2 * max(8, plain.frame_multiple))
    with torch.no_grad():
        torch.testing.assert_close(checkpointed(x), plain(x))


CHANNELS_LAST = [name for name, entry in MODELS.items()
                 if "channels_last" in {f.name for f in dataclasses.fields(entry.config_cls)}]


@pytest.mark.parametrize("name", CHANNELS_LAST)
def test_channels_last_layout_gives_the_same_outputs_and_gradients(name):
    """In float64, where summation order hardly shows (float32 gradients differ by up to ~1 % in places); the
    output conversion back to complex runs in float32 (``channels_to_complex``), hence 1e-6."""
    assert {"tfc_tdf_unet", "lasaft"} <= set(CHANNELS_LAST)
    mix = torch.randn(2, 2, 257, 32, dtype=torch.complex128, generator=torch.Generator().manual_seed(4))
    outputs, grads = [], []
    for flag in (False, True):
        torch.manual_seed(0)
        model = build_model(name, model_config(name, **{**MODELS[name].tiny, "channels_last": flag})).double().train()
        assert model.first[0].weight.is_contiguous(memory_format=torch.channels_last) == flag
        out = model(mix)
        out.abs().sum().backward()
        outputs.append(out.detach())
        grads.append({n: p.grad for n, p in model.named_parameters()})
    torch.testing.assert_close(outputs[1], outputs[0], rtol=1e-6, atol=1e-7)
    for key, grad in grads[0].items():
        torch.testing.assert_close(grads[1][key], grad, rtol=1e-5, atol=1e-8, msg=key)
