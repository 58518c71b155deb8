"""The text format: lexer, lark grammar, parser, printer, assembly formats."""
