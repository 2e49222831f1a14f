"""The Jinja2 environment that fills the templates of the course's generated pages (``ftrag/course/templates/``)."""

from __future__ import annotations

from jinja2 import Environment, PackageLoader, StrictUndefined

# Templates are Markdown or HTML written as they come out: a block tag ({% for %}, {% if %}) on a line of its own
# leaves no blank line behind (trim_blocks, lstrip_blocks), a file's last newline is kept, a missing value is an
# error rather than an empty string, and nothing is escaped unless a template says so.
ENV = Environment(loader=PackageLoader("ftrag.course"), keep_trailing_newline=True, trim_blocks=True,
                  lstrip_blocks=True, undefined=StrictUndefined, autoescape=False)
ENV.filters["fmt"] = format  # {{ x | fmt(",.3f") }} is Python's format(x, ",.3f")


def render(template: str, /, **values) -> str:
    """The template ``ftrag/course/templates/<template>`` filled with ``values``."""
    return ENV.get_template(template).render(**values)
