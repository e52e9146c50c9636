"""The client portal's server-rendered pages under `/portal/<agency-slug>/...` (Jinja2, htmx
for actions, forms that work without JavaScript), with a cookie session kept in Redis."""
