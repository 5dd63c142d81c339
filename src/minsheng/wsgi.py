"""WSGI entry point: ``minsheng serve`` runs it under gunicorn (``minsheng.wsgi:application``)."""

import os

from django.core.wsgi import get_wsgi_application

from minsheng.core.heap import FreezeAfterWarmUp

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "minsheng.settings")

application = FreezeAfterWarmUp(get_wsgi_application())
