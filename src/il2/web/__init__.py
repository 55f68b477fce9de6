"""Server-rendered pages (Jinja2 + htmx): parse the form, call one service, render the page."""
