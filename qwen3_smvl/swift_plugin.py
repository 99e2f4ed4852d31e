"""The repo's swift plugin (plugin/register.py), loaded into this process the way `--external_plugins` loads it."""
from . import REPO


def load_plugin():
    from swift.utils import import_external_file
    return import_external_file(str(REPO / 'plugin' / 'register.py'))
