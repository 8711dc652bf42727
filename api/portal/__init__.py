"""The client web portal: server-rendered pages at /portal, on the API's own app.

``install_portal(app)`` (in :mod:`api.portal.install`) mounts it; see README.md here for
the pages, the session and CSRF design, and the two languages.
"""
