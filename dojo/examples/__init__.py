"""Models for the site's code examples: a small billing domain that every rule page can import."""
