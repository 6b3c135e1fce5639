"""Course material pulled into a home, against a real bare repository on disk."""

import os
import subprocess
from pathlib import Path

import pytest

from hubless_lab.content import SyncError, folder_name, sync, sync_from_environment, update_name

GIT_ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "Teacher",
    "GIT_AUTHOR_EMAIL": "teacher@example.edu",
    "GIT_COMMITTER_NAME": "Teacher",
    "GIT_COMMITTER_EMAIL": "teacher@example.edu",
    "GIT_CONFIG_GLOBAL": os.devnull,
}


def git(cwd, *args):
    return subprocess.run(["git", *args], cwd=cwd, env=GIT_ENV, check=True, capture_output=True, text=True).stdout


class Course:
    """A teacher's working copy that pushes to a bare repository (what the lab pulls)."""

    def __init__(self, root: Path):
        self.bare = root / "course.git"
        self.work = root / "teacher"
        git(root, "init", "--quiet", "--bare", "--initial-branch=main", str(self.bare))
        git(root, "clone", "--quiet", str(self.bare), str(self.work))
        git(self.work, "checkout", "--quiet", "-b", "main")

    @property
    def url(self) -> str:
        return f"file://{self.bare}"

    def publish(self, files: dict, removed=()):
        for name, text in files.items():
            (self.work / name).parent.mkdir(parents=True, exist_ok=True)
            (self.work / name).write_text(text)
        for name in removed:
            (self.work / name).unlink()
        git(self.work, "add", "-A")
        git(self.work, "commit", "--quiet", "-m", "update")
        git(self.work, "push", "--quiet", "origin", "main")


@pytest.fixture
def course(tmp_path):
    course = Course(tmp_path)
    course.publish({"week1.ipynb": "week 1 v1\n", "data/readme.md": "data v1\n"})
    return course


@pytest.fixture
def home(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    return home


def test_first_pull_copies_the_course_into_a_folder_named_after_the_repository(course, home):
    result = sync(course.url, "main", home)
    assert result.cloned
    assert (home / "course" / "week1.ipynb").read_text() == "week 1 v1\n"
    assert (home / "course" / "data" / "readme.md").read_text() == "data v1\n"


def test_the_teachers_new_and_changed_files_land(course, home):
    sync(course.url, "main", home)
    course.publish({"week1.ipynb": "week 1 v2\n", "week2.ipynb": "week 2\n"})
    result = sync(course.url, "main", home)
    assert (home / "course" / "week1.ipynb").read_text() == "week 1 v2\n"
    assert (home / "course" / "week2.ipynb").read_text() == "week 2\n"
    assert result.updated == ["week1.ipynb", "week2.ipynb"]


def test_a_students_edit_is_kept_and_the_teachers_update_is_shown_next_to_it(course, home):
    sync(course.url, "main", home)
    (home / "course" / "week1.ipynb").write_text("my answers\n")
    course.publish({"week1.ipynb": "week 1 v2\n", "data/readme.md": "data v2\n"})
    result = sync(course.url, "main", home)
    assert (home / "course" / "week1.ipynb").read_text() == "my answers\n"
    assert (home / "course" / "week1.course-update.ipynb").read_text() == "week 1 v2\n"
    assert (home / "course" / "data" / "readme.md").read_text() == "data v2\n"
    assert result.kept == [("week1.ipynb", "week1.course-update.ipynb")]
    assert "kept your version of week1.ipynb" in result.summary()

    # The next pull with no new change from the teacher leaves the student's file alone.
    again = sync(course.url, "main", home)
    assert (home / "course" / "week1.ipynb").read_text() == "my answers\n"
    assert again.kept == [] and again.updated == []


def test_a_students_edit_of_a_file_the_teacher_did_not_change_is_untouched(course, home):
    sync(course.url, "main", home)
    (home / "course" / "week1.ipynb").write_text("my answers\n")
    (home / "course" / "notes.txt").write_text("mine\n")
    course.publish({"week2.ipynb": "week 2\n"})
    sync(course.url, "main", home)
    assert (home / "course" / "week1.ipynb").read_text() == "my answers\n"
    assert (home / "course" / "notes.txt").read_text() == "mine\n"
    assert (home / "course" / "week2.ipynb").exists()


def test_a_deleted_file_is_restored(course, home):
    sync(course.url, "main", home)
    (home / "course" / "week1.ipynb").unlink()
    result = sync(course.url, "main", home)
    assert (home / "course" / "week1.ipynb").read_text() == "week 1 v1\n"
    assert result.restored == ["week1.ipynb"]


def test_a_deleted_file_the_teacher_changed_comes_back_in_the_new_version(course, home):
    sync(course.url, "main", home)
    (home / "course" / "week1.ipynb").unlink()
    course.publish({"week1.ipynb": "week 1 v2\n"})
    sync(course.url, "main", home)
    assert (home / "course" / "week1.ipynb").read_text() == "week 1 v2\n"


def test_a_student_file_with_the_name_of_a_new_course_file_stays_the_students(course, home):
    sync(course.url, "main", home)
    (home / "course" / "week2.ipynb").write_text("I started early\n")
    course.publish({"week2.ipynb": "week 2\n"})
    sync(course.url, "main", home)
    assert (home / "course" / "week2.ipynb").read_text() == "I started early\n"
    assert (home / "course" / "week2.course-update.ipynb").read_text() == "week 2\n"


def test_a_file_the_teacher_removed_goes_unless_the_student_changed_it(course, home):
    sync(course.url, "main", home)
    (home / "course" / "data" / "readme.md").write_text("my notes\n")
    course.publish({}, removed=["week1.ipynb", "data/readme.md"])
    sync(course.url, "main", home)
    assert not (home / "course" / "week1.ipynb").exists()
    assert (home / "course" / "data" / "readme.md").read_text() == "my notes\n"


def test_a_folder_that_is_not_the_course_is_never_touched(course, home):
    (home / "course").mkdir()
    (home / "course" / "thesis.tex").write_text("mine\n")
    with pytest.raises(SyncError, match="is not the course's copy"):
        sync(course.url, "main", home)
    assert (home / "course" / "thesis.tex").read_text() == "mine\n"


def test_at_server_start_a_failed_pull_is_written_for_the_student_and_does_not_raise(tmp_path, home):
    missing = f"file://{tmp_path / 'nowhere.git'}"
    assert sync_from_environment({"HUBLESS_CONTENT_REPO": missing, "HOME": str(home)}) is None
    assert "could not be pulled" in (home / "nowhere.sync-error.txt").read_text()


def test_at_server_start_the_environment_names_the_repository_branch_and_folder(course, home):
    result = sync_from_environment(
        {
            "HUBLESS_CONTENT_REPO": course.url,
            "HUBLESS_CONTENT_BRANCH": "main",
            "HUBLESS_CONTENT_DIR": "intro",
            "HOME": str(home),
        }
    )
    assert result is not None and result.cloned
    assert (home / "intro" / "week1.ipynb").exists()
    assert sync_from_environment({"HOME": str(home)}) is None


def test_names():
    assert folder_name("https://github.com/org/intro-course.git") == "intro-course"
    assert folder_name("git@github.com:org/stats") == "stats"
    assert update_name("week1.ipynb") == "week1.course-update.ipynb"
    assert update_name("data/a.tar.gz") == "data/a.course-update.tar.gz"
    assert update_name(".env") == ".env.course-update"
