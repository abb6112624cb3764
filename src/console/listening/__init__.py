"""A MUSHRA-style listening test: a static web page built from an evaluation, and its analysis.

:func:`~console.listening.site.build_site` turns ``console evaluate``'s
excerpts into a folder any web server (or the file system) can serve;
:func:`~console.listening.analysis.analyse` summarises the result files that
participants download from it.
"""
