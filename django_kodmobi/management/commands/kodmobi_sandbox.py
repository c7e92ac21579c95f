from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_kodmobi.sandbox.cli import add_arguments, serve


class Command(BaseCommand):
    help = "Run the local kod.mobi sandbox on loopback (see --help for its options)."

    def add_arguments(self, parser: CommandParser) -> None:
        add_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        from argparse import Namespace

        try:
            serve(Namespace(**options))
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
