"""WSGI entry point: ``minsheng serve`` runs it under gunicorn (``minsheng.wsgi:application``)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "minsheng.settings")

application = get_wsgi_application()
