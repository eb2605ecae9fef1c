"""The console's date formats (FORMAT_MODULE_PATH in reviewer/settings.py), one package per
language as Django looks them up; see en/formats.py."""
