"""Spec expressions: their nodes (`nodes`), their evaluation (`evaluate`) and their printing
(`printer`). The frontend parses into these, elaboration evaluates them, codegen prints them."""
