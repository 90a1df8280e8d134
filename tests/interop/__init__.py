"""Interoperability: crypto.age against the age command, pyrage and typage, both directions."""
