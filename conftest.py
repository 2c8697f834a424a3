"Test-run settings shared by the notebook (nbval) and plain tests."
import os

# The course's test models are tiny: one BLAS thread per process is faster than two, and it keeps the two pytest-xdist
# workers (pytest.ini) from fighting over the CI machine's two cores. Notebook kernels inherit this environment.
os.environ.setdefault('OMP_NUM_THREADS', '1')
os.environ.setdefault('MKL_NUM_THREADS', '1')
os.environ.setdefault('MPLBACKEND', 'Agg')
os.environ.setdefault('TRM_MODE', 'quick')
# Pictures the chapters draw go to a throw-away folder: a test run never touches the committed images/ (or nbs/figures/).
if 'TRM_FIGURES' not in os.environ:
    import tempfile
    os.environ['TRM_FIGURES'] = tempfile.mkdtemp(prefix='trm-test-figures-')
