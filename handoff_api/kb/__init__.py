"""The knowledge base in the service: articles in the database (`store`), the search index every worker
keeps in step with them (`index`), knowledge gaps (`gaps`) and the API shapes (`schemas`). Search itself
is the `knowledge_base` library."""
