"Packaging for trm-course, driven by settings.ini (nbdev 2 layout, without pkg_resources)."
from configparser import ConfigParser
from pathlib import Path

import setuptools
from packaging.version import Version

here = Path(__file__).parent
config = ConfigParser(delimiters=['='])
config.read(here / 'settings.ini', encoding='utf-8')
cfg = config['DEFAULT']

expected = 'version description keywords author author_email license min_python lib_name lib_path git_url'.split()
missing = [o for o in expected if o not in cfg]
if missing: raise SystemExit(f'settings.ini is missing: {missing}')
Version(cfg['version'])  # fail early on a malformed version string

licenses = {'apache2': ('Apache Software License 2.0', 'OSI Approved :: Apache Software License')}
statuses = ['1 - Planning', '2 - Pre-Alpha', '3 - Alpha', '4 - Beta', '5 - Production/Stable', '6 - Mature', '7 - Inactive']
py_versions = '3.10 3.11 3.12 3.13'.split()

lic = licenses[cfg['license'].lower()]
min_python = cfg['min_python']
requirements = cfg.get('requirements', '').split()
dev_requirements = cfg.get('dev_requirements', '').split()
# the website (tools/docs.py): Sphinx and friends, plus nbdev at dev's pins (its processing is the first step)
docs_requirements = cfg.get('docs_requirements', '').split()
nbdev_pins = [r for r in dev_requirements if r.split('=')[0].split('<')[0].split('>')[0] in ('nbdev', 'fastcore', 'execnb', 'ghapi')]

setuptools.setup(
    name=cfg['lib_name'],
    version=cfg['version'],
    description=cfg['description'],
    long_description=(here / 'README.md').read_text(encoding='utf-8') if (here / 'README.md').exists() else cfg['description'],
    long_description_content_type='text/markdown',
    author=cfg['author'], author_email=cfg['author_email'],
    url=cfg['git_url'],
    license=lic[0],
    keywords=cfg['keywords'],
    classifiers=[
        'Development Status :: ' + statuses[int(cfg['status'])],
        'Intended Audience :: ' + cfg['audience'].title(),
        'License :: ' + lic[1],
        'Natural Language :: ' + cfg['language'].title(),
        'Topic :: Scientific/Engineering :: Artificial Intelligence',
    ] + ['Programming Language :: Python :: ' + v for v in py_versions if Version(v) >= Version(min_python)],
    # the library's code, plus the small runtime files of the top-level data/ folder shipped as `trm_course/data/`
    # (read them with `trm_course.core.package_file`; caches and test data in data/ subfolders stay out)
    # and the recorded benchmark outputs of benchmarks/results/ as `trm_course/results/` (`trm_course.core.recorded_result`)
    packages=setuptools.find_packages(include=[cfg['lib_path'], cfg['lib_path'] + '.*'])
             + [cfg['lib_path'] + '.data', cfg['lib_path'] + '.results'],
    package_dir={cfg['lib_path'] + '.data': 'data', cfg['lib_path'] + '.results': 'benchmarks/results'},
    # and the model zoo's trained models, `trm_course/models/` (`trm_course.zoo`, chapter 24): weights, held-out set, card
    package_data={cfg['lib_path'] + '.data': ['*.json', 'reference/*.pt', 'reference/README.md'],
                  cfg['lib_path'] + '.results': ['*.json', '*.jsonl', '*.txt'],
                  cfg['lib_path']: ['models/*.pt', 'models/*.test.npz', 'models/*.json', 'models/*.md']},
    install_requires=requirements,
    extras_require={'dev': dev_requirements + docs_requirements, 'docs': nbdev_pins + docs_requirements},
    python_requires='>=' + min_python,
    zip_safe=False,
    entry_points={
        'console_scripts': cfg.get('console_scripts', '').split(),
        'nbdev': [f"{cfg['lib_path']}={cfg['lib_path']}._modidx:d"],
    },
)
