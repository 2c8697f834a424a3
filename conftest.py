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

# Property-based tests (tests/test_fuzz_*.py): seeded profiles, registered once. `ci` (the default) runs 120 examples
# per test; HYPOTHESIS_PROFILE=long runs 2,000.
try:
    from hypothesis import HealthCheck, settings
except ImportError:   # only the dev extra installs hypothesis; the fuzz tests skip without it
    pass
else:
    _common = dict(derandomize=True, deadline=None, database=None, print_blob=True,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
    settings.register_profile('ci', max_examples=120, **_common)
    settings.register_profile('long', max_examples=2000, **_common)
    settings.load_profile(os.environ.get('HYPOTHESIS_PROFILE', 'ci'))
