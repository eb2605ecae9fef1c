"""The staff console: the Django admin as a monitoring console (the read side's pages).

site.py is the admin site (its index is the fleet dashboard, dashboard.py; charts.py draws
the SVG charts); connections.py, tasks.py and findings.py are the model pages, registered
when admin autodiscovery imports monitoring/admin.py; kit.py is what they share.
"""
