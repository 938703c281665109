"""Build tooling of the book (not part of the ``asen`` library): notebook execution and the browser check."""
