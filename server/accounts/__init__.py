"""Accounts, roles, tokens and grid assignments (账号、角色与网格长任命).

Privacy decision: grid geometry, area codes and area names are public (anyone may ask which grid a point
is in). People are not: names of grid chiefs and deputies are given only to authenticated callers (the
`responsible` field of GET /api/v1/grids/locate), never their phone numbers; phone numbers of other
accounts are masked (138****0001) except for staff who manage accounts.

Roles (an account may hold several): member 网格员/党员/志愿者, grid_chief 网格长 (deputies too),
township_staff, county_staff, custodian (discipline officer; the only role that may approve revealing a
reporter), admin. What each role can see is decided in one place, server/scope.py.
"""
