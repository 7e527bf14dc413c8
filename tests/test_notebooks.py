"""The notebooks: stored without outputs, and 01..08 run in SMOKE mode with errors not allowed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = REPO / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("0[1-8]_*.ipynb"))
CELL_TIMEOUT = 600


def test_eight_notebooks_exist():
    assert [p.name[:2] for p in NOTEBOOKS] == ["01", "02", "03", "04", "05", "06", "07", "08"]


def _built_notebooks() -> dict:
    """{file name: notebook} as notebooks/_build_notebooks.py generates them (nothing written)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("_build_notebooks", NOTEBOOK_DIR / "_build_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.NOTEBOOKS


def test_committed_notebooks_are_the_builders_output():
    """The notebooks are generated: an edit to a .ipynb (or a builder change not regenerated) fails here."""
    nbformat = pytest.importorskip("nbformat")
    built = _built_notebooks()
    assert sorted(built) == [p.name for p in NOTEBOOKS]
    for name, nb in built.items():
        stored = json.loads((NOTEBOOK_DIR / name).read_text())
        assert stored == json.loads(nbformat.writes(nb)), (
            f"notebooks/{name} differs from notebooks/_build_notebooks.py: edit the builder, then run "
            "python notebooks/_build_notebooks.py")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_stored_stripped(path):
    """Committed notebooks carry no outputs and no execution counts (they are results, not source)."""
    nb = json.loads(path.read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [], f"{path.name}: a cell has outputs; regenerate or strip it"
            assert cell["execution_count"] is None, f"{path.name}: a cell has an execution count"
    assert "widgets" not in nb["metadata"], f"{path.name}: widget state stored in the metadata"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_layout(path):
    """Cell 1 is the Colab-only setup, the next code cell is tagged `parameters` and holds the parameters."""
    code = [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]
    assert "google.colab" in "".join(code[0]["source"])
    assert "parameters" in code[1]["metadata"].get("tags", [])
    source = "".join(code[1]["source"])
    for name in ("MUSDB_ROOT", "WORK", "DEVICE", "EPOCHS", "SMOKE", 'os.environ.get("HW2SEP_SMOKE", "0") == "1"'):
        assert name in source, f"{path.name}: parameters cell lacks {name}"


def _execute(path: Path):
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3", allow_errors=False,
                            resources={"metadata": {"path": str(NOTEBOOK_DIR)}})
    try:
        client.execute()
    except CellExecutionError as err:
        pytest.fail(f"{path.name} failed:\n{str(err)[-3000:]}", pytrace=False)
    return nb


@pytest.fixture
def smoke_env(tmp_path, monkeypatch) -> Path:
    """HW2SEP_SMOKE=1 and a fresh HW2SEP_WORK; the kernels inherit this environment."""
    pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    monkeypatch.setenv("HW2SEP_SMOKE", "1")
    monkeypatch.setenv("HW2SEP_WORK", str(tmp_path / "work"))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # 2-thread torch stalls 10x on a busy 2-core machine
    return tmp_path / "work"


def test_notebooks_run_in_order(smoke_env):
    """01..08 in one scratch folder, as CI does: each later notebook uses the earlier ones' outputs. The optional
    07 (model comparison) and 08 (ablations) run before 06, so that the report shows their tables."""
    order = sorted(NOTEBOOKS, key=lambda p: p.name.startswith("06"))  # 01-05, 07, 08, then 06 (the report)
    for path in order:
        import nbformat
        size = len(nbformat.writes(_execute(path)))  # players embed 10 s MP3 previews, never whole tracks
        assert size < 10e6, f"{path.name} executed is {size / 1e6:.1f} MB"
    work = smoke_env
    for expected in ("toy_musdb/toy_musdb.json", ".cache/musdb_npy/manifest.json", "runs/umx/epoch_003.pt",
                     "runs/umx/log.csv", "results/comparison.csv", "samples/index.json", "report/report.pdf",
                     "report/figures/sdr_vs_epoch.png", "report/figures/architecture.pdf",
                     "runs/vocoder_mel/best.pt", "runs/vocoder_linear/best.pt",
                     "experiments/compare_models_smoke/table.csv", "experiments/structure_smoke/table.csv"):
        assert (work / expected).exists(), f"the notebooks did not write {expected}"
    import csv
    with open(work / "results" / "comparison.csv", newline="") as f:
        methods = {r["method"] for r in csv.DictReader(f)}
    assert {"mel", "vocoder", "vocoder-linear"} <= methods  # notebook 04's vocoder part


def test_notebook_without_inputs_says_which_to_run_first(smoke_env):
    """03 in an empty workspace stops with one clear line naming 02_train, not a deep traceback."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(NOTEBOOK_DIR / "03_evaluate_epochs.ipynb", as_version=4)
    client = NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOK_DIR)}})
    with pytest.raises(CellExecutionError) as err:
        client.execute()
    assert "Hw2sepError" in str(err.value) and "02_train.ipynb" in str(err.value)
