"""Discussions and pull requests with the unmodified `huggingface_hub` client: numbering shared with
`create_pr` commits, filters, events, comments, merges (and merge conflicts), and who may do what."""

from __future__ import annotations

import asyncio

import pytest
from huggingface_hub import CommitOperationAdd, HfApi
from huggingface_hub.community import DiscussionComment, DiscussionCommit, DiscussionStatusChange, DiscussionTitleChange
from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

from tests.compat.conftest import CLIENT_WARNINGS, Catalog

# The client warns, before it hides a comment, that hiding cannot be undone.
pytestmark = [CLIENT_WARNINGS, pytest.mark.filterwarnings("ignore:Hidden comments:UserWarning")]


async def test_discussions_and_pull_requests_number_filter_comment_and_merge(catalog: Catalog) -> None:
    bob_token = await catalog.user("bob")
    admin = HfApi(endpoint=catalog.url, token=catalog.admin_token)
    bob = HfApi(endpoint=catalog.url, token=bob_token)
    repo = "admin/talk"

    def session() -> None:
        admin.create_repo("talk")
        admin.upload_file(path_or_fileobj=b"one", path_in_repo="a.txt", repo_id=repo)
        pr = admin.create_commit(
            repo, [CommitOperationAdd("new.txt", b"from the PR")], commit_message="Add new.txt", create_pr=True
        )
        assert pr.pr_num == 1
        draft = admin.create_pull_request(repo, "Empty PR", description="nothing yet")
        assert (draft.num, draft.status, draft.is_pull_request) == (2, "draft", True)
        question = bob.create_discussion(repo, "  A question  ", description="Why?")
        assert (question.num, question.title, question.author, question.is_pull_request) == (
            3,
            "A question",
            "bob",
            False,
        )
        first = question.events[0]
        assert isinstance(first, DiscussionComment)
        assert first.content == "Why?"

        def nums(**filters: str) -> list[int]:
            return [d.num for d in admin.get_repo_discussions(repo, **filters)]  # type: ignore[arg-type]

        assert nums() == [3, 2, 1]
        assert nums(discussion_type="pull_request") == [2, 1]
        assert nums(discussion_type="discussion") == [3]
        assert nums(author="bob") == [3]
        assert nums(discussion_status="open") == [3, 1]  # the draft is neither open nor closed

        details = admin.get_discussion_details(repo, 1)
        assert (details.title, details.status, details.target_branch) == ("Add new.txt", "open", "refs/heads/main")
        assert details.conflicting_files == []
        assert details.merge_commit_oid is None
        commits = [e for e in details.events if isinstance(e, DiscussionCommit)]
        assert [(c.summary, c.oid) for c in commits] == [("Add new.txt", pr.oid)]

        said = bob.comment_discussion(repo, 3, "Me too")
        assert (said.content, said.author, said.edited) == ("Me too", "bob", False)
        edited = bob.edit_discussion_comment(repo, 3, said.id.upper(), "Me too, really")  # ids are case-blind
        assert (edited.content, edited.edited, edited.id) == ("Me too, really", True, said.id)
        with pytest.raises(HfHubHTTPError, match="403"):
            admin.edit_discussion_comment(repo, 3, said.id, "not yours")
        with pytest.raises(HfHubHTTPError, match="403"):
            bob.hide_discussion_comment(repo, 3, said.id)  # hiding is for the repo's writers
        hidden = admin.hide_discussion_comment(repo, 3, said.id)
        assert hidden.hidden
        assert hidden.content == ""
        renamed = bob.rename_discussion(repo, 3, "A better question")
        assert isinstance(renamed, DiscussionTitleChange)
        assert (renamed.old_title, renamed.new_title) == ("A question", "A better question")
        closed = bob.change_discussion_status(repo, 3, "closed", comment="Answered")
        assert isinstance(closed, DiscussionStatusChange)
        assert closed.new_status == "closed"
        details = bob.get_discussion_details(repo, 3)
        assert (details.title, details.status) == ("A better question", "closed")
        kinds = [type(e).__name__ for e in details.events]
        assert kinds == ["DiscussionComment", "DiscussionComment", "DiscussionTitleChange", "DiscussionComment",
                         "DiscussionStatusChange"]  # fmt: skip
        with pytest.raises(HfHubHTTPError, match="403"):
            bob.change_discussion_status(repo, 1, "closed")  # neither the PR's author nor a writer
        with pytest.raises(HfHubHTTPError, match="403"):
            bob.merge_pull_request(repo, 1)

        # Commits to the draft's ref open it; the next number comes after every discussion's.
        admin.create_commit(repo, [CommitOperationAdd("b.txt", b"bee")], commit_message="b", revision="refs/pr/2")
        assert admin.get_discussion_details(repo, 2).status == "open"
        later = admin.create_commit(repo, [CommitOperationAdd("c.txt", b"c")], commit_message="c", create_pr=True)
        assert later.pr_num == 4

        admin.merge_pull_request(repo, 1, comment="Thanks!")
        merged = admin.get_discussion_details(repo, 1)
        head = admin.model_info(repo).sha
        assert (merged.status, merged.merge_commit_oid) == ("merged", head)
        assert set(admin.list_repo_files(repo)) == {".gitattributes", "a.txt", "new.txt"}
        assert admin.hf_hub_download(repo, "new.txt", cache_dir=str(catalog.home / "cache")) is not None
        admin.merge_pull_request(repo, 2)  # no body at all, as the client sends without a comment
        assert set(admin.list_repo_files(repo)) == {".gitattributes", "a.txt", "new.txt", "b.txt"}
        with pytest.raises(HfHubHTTPError, match="merged"):
            admin.merge_pull_request(repo, 1)

        # A comment on someone else's private repo: as if it did not exist.
        admin.create_repo("secret", private=True)
        with pytest.raises(RepositoryNotFoundError):
            bob.create_discussion("admin/secret", "hello?")
        admin.create_discussion("admin/secret", "internal")
        with pytest.raises(RepositoryNotFoundError):
            bob.comment_discussion("admin/secret", 1, "let me in")

    await asyncio.to_thread(session)
    updates = await catalog.events("hubstream.catalog.repo.updated.v1")
    merges = [
        u for u in updates if u["updated_refs"][0]["ref"] == "refs/heads/main" and "new.txt" in u["changed_paths"]
    ]
    assert [m["changed_paths"] for m in merges] == [["new.txt"]]


async def test_a_conflicting_merge_is_refused_and_changes_nothing(catalog: Catalog) -> None:
    api = HfApi(endpoint=catalog.url, token=catalog.admin_token)
    repo = "admin/clash"

    def session() -> None:
        api.create_repo("clash", repo_type="dataset")
        api.upload_file(path_or_fileobj=b"v1", path_in_repo="a.txt", repo_id=repo, repo_type="dataset")
        api.create_commit(
            repo,
            [CommitOperationAdd("a.txt", b"pr"), CommitOperationAdd("other.txt", b"x")],
            commit_message="Change a",
            repo_type="dataset",
            create_pr=True,
        )
        api.upload_file(path_or_fileobj=b"main", path_in_repo="a.txt", repo_id=repo, repo_type="dataset")
        head = api.dataset_info(repo).sha
        assert api.get_discussion_details(repo, 1, repo_type="dataset").conflicting_files == ["a.txt"]
        with pytest.raises(HfHubHTTPError, match="409") as caught:
            api.merge_pull_request(repo, 1, repo_type="dataset", comment="merging")
        assert caught.value.response.headers["X-Error-Code"] == "MergeConflict"
        assert "a.txt" in str(caught.value)
        assert api.dataset_info(repo).sha == head  # nothing half-written: no commit, no status, no comment
        details = api.get_discussion_details(repo, 1, repo_type="dataset")
        assert details.status == "open"
        assert len(details.events) == 2
        assert set(api.list_repo_files(repo, repo_type="dataset")) == {".gitattributes", "a.txt"}

        # Changed back on main to what the PR has: no conflict any more (both sides agree), and it merges.
        api.upload_file(path_or_fileobj=b"pr", path_in_repo="a.txt", repo_id=repo, repo_type="dataset")
        api.merge_pull_request(repo, 1, repo_type="dataset")
        files = set(api.list_repo_files(repo, repo_type="dataset"))
        assert files == {".gitattributes", "a.txt", "other.txt"}

    await asyncio.to_thread(session)
