"""The upload itself, through ``huggingface_hub``, after the checks that would otherwise fail half-way."""

import os
from pathlib import Path

from lab.config.errors import UserError

TRUE = ("1", "true", "yes", "on")


def check_hub_access() -> str:
    """The Hub token, or one :class:`UserError`: ``HF_HUB_OFFLINE`` set (nothing can be uploaded), or no token."""
    from huggingface_hub import get_token

    if os.environ.get("HF_HUB_OFFLINE", "").lower() in TRUE:
        raise UserError("HF_HUB_OFFLINE is set: nothing was uploaded; unset it to publish, or pass dry_run=true to list "
                        "what would go")
    token = get_token()
    if not token:
        raise UserError("no Hugging Face token: log in with `hf auth login` (or set HF_TOKEN), then rerun; nothing was uploaded")
    return token


def upload(staged: Path, repo_id: str, token: str, private: bool, revision: str | None, large: bool,
           commit_message: str) -> str:
    """``staged`` into the model repo ``repo_id`` (created if missing; branch ``revision`` created if missing); a
    ``large`` upload goes through ``upload_large_folder``. Returns the repo's URL."""
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    url = api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
    if revision:
        api.create_branch(repo_id, branch=revision, exist_ok=True)
    if large:
        api.upload_large_folder(repo_id=repo_id, folder_path=str(staged), repo_type="model", revision=revision, private=private)
    else:
        api.upload_folder(repo_id=repo_id, folder_path=str(staged), revision=revision, commit_message=commit_message)
    return str(url)
