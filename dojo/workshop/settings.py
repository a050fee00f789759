"""Settings of the workshop board when `dojo workshop serve` runs it.

The board keeps its data in SQLite next to the lead's clone (`.dojo/workshop/board.sqlite3`) unless the
lead gives a PostgreSQL database in `DOJO_WORKSHOP_DATABASE_URL` (a variable of its own: the graders'
`DATABASE_URL` is for grading). `dojo workshop serve` sets the variables read here before Django starts.
"""

import secrets

import dj_database_url

from dojo import config

# no cookie, session or form is signed: every request carries a bearer token, so a key per run will do
SECRET_KEY = config.workshop_secret_key() or secrets.token_urlsafe(48)
DEBUG = False
# learners reach the lead's laptop by whatever address the room's network gives it
ALLOWED_HOSTS = ["*"]
USE_TZ = True
TIME_ZONE = "UTC"
ROOT_URLCONF = "dojo.workshop.urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
INSTALLED_APPS = ["corsheaders", "dojo.workshop.apps.WorkshopConfig"]
MIDDLEWARE = [
    "corsheaders.middleware.CorsMiddleware",
    "dojo.workshop.middleware.BodyLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
]
DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024  # a grading is well under 16 KB
# the site's kata pages post from the browser: the site's own origins may call the board
CORS_ALLOWED_ORIGINS = config.workshop_site_origins()
CORS_URLS_REGEX = r"^/api/v1/workshop/(join|gradings)$"

_url = config.workshop_database_url()
if _url:
    DATABASES = {"default": dj_database_url.parse(_url, conn_max_age=60)}
else:
    _path = str(config.workshop_sqlite())
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": _path,
            # one writer at a time, waiting its turn instead of failing: 100 learners post every few seconds
            "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"},
        }
    }
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"dojo": {"handlers": ["console"], "level": "WARNING"}},
}
