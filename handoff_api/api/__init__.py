"""The HTTP face of the service, and the only package (with `main`) that imports FastAPI or Starlette:
request dependencies (`deps`), the routes (`routes/`), answers built from the tables (`serializers`,
`links`), errors as HTTP answers (`errors`, `openapi`) and the middleware (`middleware/`)."""
