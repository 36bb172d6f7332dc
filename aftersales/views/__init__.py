"""After-sales pages: the workbench, the detail and its actions, service metrics."""
