"""The replay demo and the scripted OpenAI-compatible server it (and the tests) use in place of a model."""
