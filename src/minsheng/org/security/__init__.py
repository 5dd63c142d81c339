"""Staff login security (GB/T 22239 level 3, issue 6 point 6): who gets in, and for how long.

Only staff accounts are concerned (the console ``/console/``, the admin ``/admin/`` and the
session-authenticated API); citizens have no accounts and API tokens are not affected.

- **Lockout** (``lockout``, django-axes): 5 failed logins of one *username* lock it for
  ``MINSHENG_LOCKOUT_MINUTES`` (default 30), whatever address they come from. Not per address:
  staff share office NAT addresses, so one mistyping colleague would lock an office; not per
  username+address: a botnet would get 5 guesses per address. The price — anyone can lock a
  known username for half an hour — is bounded by the cool-off and an unlock. Wrong second-
  factor codes count as failures; only a complete login (password and, where required, the
  code) clears them. The locked-out user gets a translated page with HTTP 429. A security
  administrator unlocks at ``/console/security/`` (audited); operators may also use
  ``minsheng manage axes_reset_username NAME`` or delete the row under "Axes › Access
  attempts" in the admin (both unaudited: prefer the console page).
- **Passwords** (``minsheng.org.passwords``): at least ``MINSHENG_PASSWORD_MIN_LENGTH``
  characters, three of four character classes, not like the account, not common; changed
  every ``MINSHENG_PASSWORD_MAX_AGE_DAYS`` (default 90; 0 = off; demo accounts exempt).
- **Idle timeout** (``minsheng.core.middleware.StaffSessionMiddleware``): a session unused for
  ``MINSHENG_IDLE_TIMEOUT_MINUTES`` is signed out; the last activity is rewritten in the
  session at most once a minute, never on the portal.
- **Two-factor** (``two_factor``, django-otp TOTP): required for ``MINSHENG_TWO_FACTOR_ROLES``
  (center_admin, supervisor, auditor, security_admin) and for every superuser. Until the code
  is confirmed every console page and admin page redirects to ``/console/two-factor/`` and the
  session API answers 403 ``two_factor_required``. Demo accounts are exempt (their password is
  published and ``minsheng serve`` refuses them; one visitor's phone must not lock the others
  out).

Every security event (lockout, unlock, password change, 2FA enrolment and reset, idle logout)
writes an audit record (``minsheng.core.audit``): actions ``org.staff.lockout``,
``org.staff.unlock``, ``org.staff.password_change``, ``org.two_factor.enrol``,
``org.two_factor.reset``, ``org.staff.idle_logout``.

Known limits: role changes and device resets reach a session that is already verified within a
minute (the gate's state is cached in the session and re-checked once a minute, so console
pages gain no query); first enrolment trusts whoever holds the password (a security
administrator can reset a device enrolled by the wrong person).
"""
