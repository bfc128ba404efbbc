"""The `bot` config section: who may trigger the bot, what a job may spend, how the server runs jobs.

Secrets are never part of it (the run directory keeps the effective config): the token comes from
GITHUB_TOKEN, a GitHub App's private key from the file named here, the webhook secret from
SWESCALE_WEBHOOK_SECRET.
"""

from __future__ import annotations

from sandbox.configbase import Section


class BotConfig(Section):
    trigger_label: str = "swescale"
    """Adding this label to an issue starts a solve."""
    command: str = "/swescale"
    """Comment prefix of the commands `<command> solve` (on an issue) and `<command> review` (on a PR)."""
    allowed_associations: list[str] = ["OWNER", "MEMBER", "COLLABORATOR"]
    """Author associations (GitHub's `author_association`) whose comments and labels start work; others are
    ignored before anything runs."""
    max_tokens: int = 2_000_000
    """Cost cap: token budget of one job (the run's `solve.max_total_tokens` is lowered to it; 0 = no cap)."""
    daily_tokens: int = 0
    """Daily budget: tokens all jobs of one UTC day may spend (0 = unlimited); a job that finds it spent
    posts a comment instead of running."""
    daily_jobs: int = 0
    """Jobs that may start per UTC day (0 = unlimited)."""
    workers: int = 2
    """`bot serve`: jobs run at the same time."""
    repo_concurrency: int = 1
    """`bot serve`: jobs of one repository run at the same time."""
    max_attempts: int = 2
    """`bot serve`: a job cut short by a crash or restart runs again (resuming its run directory) until it
    was started this many times; then its issue gets a comment saying so."""
    state_dir: str = ".swescale-bot"
    """`bot serve`: folder of the job database, repository workspaces and run directories."""
    run_root: str = ""
    """Folder of run directories; empty: `$RUNNER_TEMP/swescale` under Actions, `<state_dir>/runs` for serve."""
    branch_prefix: str = "swescale/issue-"
    """A fix for issue n is pushed to branch `<branch_prefix><n>` (force-pushed: the prefix belongs to the bot)."""
    git_name: str = "swescale[bot]"
    """Author and committer name of the bot's commits."""
    git_email: str = "swescale-bot@users.noreply.github.com"
    """Author and committer e-mail of the bot's commits."""
    api_url: str = ""
    """GitHub REST API base URL (GitHub Enterprise: https://HOST/api/v3); empty: $GITHUB_API_URL, else
    https://api.github.com."""
    app_id: int = 0
    """GitHub App id: with `app_private_key_file`, the bot authenticates as the App's installation
    (0: token auth with GITHUB_TOKEN)."""
    app_private_key_file: str = ""
    """PEM file of the GitHub App's private key (the key itself never goes into the config)."""
    write_interval: float = 1.0
    """Seconds between two write requests to the GitHub API (GitHub's guidance against secondary rate limits)."""
    comment_limit: int = 60_000
    """Longest comment or PR body posted, in characters (GitHub refuses more than 65536); diffs are cut."""
