"""Sphinx configuration of the course website (built by `python tools/docs.py`, see its docstring).

tools/docs.py copies this folder next to the notebooks that nbdev has processed (`_proc/site/`) and runs Sphinx on
that folder. Settings that come from settings.ini (title, repository, site address) are read here too.
"""
import configparser
from pathlib import Path

_ini = configparser.ConfigParser(delimiters=['='])
_ini.read(Path(__file__).resolve().parent / 'settings.ini', encoding='utf-8')   # tools/docs.py copies it here
_cfg = _ini['DEFAULT']

project = _cfg['title']
author = _cfg['author']
copyright = _cfg['copyright']
release = version = _cfg['version']

extensions = ['myst_nb']
# MathJax 3 from the `sphinx-mathjax-offline` package (PyPI): tools/docs.py copies the parts a page can load into
# _static/mathjax/ (its own Sphinx extension copies all 24 MB and stops Sphinx from reading pages in parallel).
mathjax_path = 'mathjax/tex-chtml.js'
root_doc = 'index'
exclude_patterns = ['_build', '**.ipynb_checkpoints']
suppress_warnings = ['mystnb.unknown_mime_type']
smartquotes = False   # the chapters quote code and names: keep ' and " as written

# The notebooks are rendered with the outputs they were committed with: nothing is executed here.
nb_execution_mode = 'off'
nb_render_markdown_format = 'myst'      # show_doc's markdown outputs have tables and code blocks
nb_ipywidgets_js = {}                   # never load the widget manager from a CDN (tools/docs.py writes a fallback)
nb_output_stderr = 'show'
myst_enable_extensions = ['dollarmath', 'amsmath', 'colon_fence', 'deflist']
myst_heading_anchors = 3
# Links are written as the site's own addresses (`watch.html#trace`, as nbdev writes them): pass them through as they
# are (tests/test_site.py checks every one in a browser).
myst_all_links_external = True

html_theme = 'furo'
html_title = f'{project} {release}'
html_static_path = ['_static']
templates_path = ['_templates']   # search.html: the theme's, plus _static/search-fix.js
html_css_files = ['site.css']
html_favicon = '_static/favicon.svg'
html_show_sourcelink = False
html_copy_source = False
html_baseurl = _cfg['doc_host'].rstrip('/') + _cfg['doc_baseurl'].rstrip('/') + '/'
# Furo's "view/edit this page" icons would point at the processed file names (watch.ipynb), not the notebooks
# (21_watch.ipynb): tools/docs.py writes the chapter's own "Open in Colab" and GitHub links into each page instead.
html_theme_options = {'top_of_page_buttons': [], 'navigation_with_keys': True}
