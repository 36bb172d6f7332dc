"""The team pages (子账号): the owner, or a shop admin, runs the shop's staff; an outlet's manager its clerks."""
