"""Job specs: YAML loading, the typed model, validation with file:line errors."""
