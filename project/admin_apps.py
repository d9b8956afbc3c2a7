"""The admin app, with Enishi's admin site (project/admin_site.py) as its site.

A module of its own: INSTALLED_APPS imports it before the models are ready,
and the site module imports views that need them.
"""

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig as DjangoAdminConfig


class AdminConfig(DjangoAdminConfig):
    default_site = "project.admin_site.AdminSite"

    def ready(self):
        super().ready()
        # allauth registers its e-mail addresses in the admin; Enishi keeps no
        # e-mail address, and staff should not be able to attach one.
        from allauth.account.models import EmailAddress

        if admin.site.is_registered(EmailAddress):
            admin.site.unregister(EmailAddress)
