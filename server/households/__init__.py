"""Households (住户), party-member links (党员联户) and home visits (五上门): the "三个全覆盖" half that says whether
every household has a member who visits it.

- services.py: create, read and list households, with link and visit status; plain functions, flush only.
- privacy.py: who may see the head of household's name and phone in full (everyone else sees them masked).
- links.py: link / unlink members in bulk (all or nothing, per-item report) and the rebalance proposal.
- visits.py: log a visit (far-from-household flag, optional photo), due and overdue status.
- importer.py: the all-or-nothing CSV/GeoJSON import (`flask households import`).
- reassign.py: `reassign_households(generation_id)` after a new grid map (`flask households reassign`).
- demo.py: `flask households demo`.

Visit rule: a household is due `GRID_VISIT_TARGET_DAYS` (30) after its last visit, or after it was registered
if it was never visited; it is overdue once that moment has passed, and "due soon" in the 7 days before.

For coverage indicators (per grid; every column below is indexed for it):
- households, linked and visited in the last 30 days, in one scan of ix_households_coverage
  (grid_code, created_at, linked, last_visited_at): `SELECT grid_code, count(*), sum(linked),
  sum(last_visited_at >= now - 30 days) FROM households GROUP BY grid_code`; `linked` (has a primary member,
  at most one per household) is kept by triggers on `household_links` (migration 0012); visits by the grid a visit
  was made in come from `household_visits (grid_code, visited_at)`;
- patrols in the last 7 days: `SELECT grid_code, count(*), sum(distance_m), sum(seconds) / 3600, max(last_at)
  FROM patrol_grids WHERE last_at >= now - 7 days GROUP BY grid_code` (ix_patrol_grids_grid_last).
"""
