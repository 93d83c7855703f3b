"""Lightning pieces shared by every training entry point: the module, callbacks, trainer assembly."""
