"""Small helpers of the original ``deeplift.util`` kept under their names for
old scripts (re-exported by ``deeplift.util``)."""
from __future__ import annotations

from types import SimpleNamespace

from deeplift.kernels import NEAR_ZERO_THRESHOLD

__all__ = ["NEAR_ZERO_THRESHOLD", "enum", "is_type", "assert_is_type", "assert_is_not_type"]


def enum(**members) -> SimpleNamespace:
    """A namespace whose attributes are ``members``, plus ``vals`` (the list of
    values) and ``the_dict`` (the mapping), as the original ``util.enum``.

    Example: ``Color = enum(red="red", blue="blue")``; ``Color.red == "red"``.
    """
    namespace = SimpleNamespace(**members)
    namespace.vals = list(members.values())
    namespace.the_dict = dict(members)
    return namespace


def is_type(instance, the_class: type) -> bool:
    """Whether a base class of ``instance``'s class (at any depth) has the
    name of ``the_class``; names, not identities, as in the original, so a
    reloaded module still matches."""
    return any(base.__name__ == the_class.__name__
               for base in type(instance).__mro__[1:])


def assert_is_type(instance, the_class: type, instance_var_name: str) -> bool:
    """Raises AssertionError unless ``is_type(instance, the_class)``."""
    if not is_type(instance, the_class):
        raise AssertionError(f"{instance_var_name} should be an instance of "
                             f"{the_class.__name__} but is {type(instance)}")
    return True


def assert_is_not_type(instance, the_class: type, instance_var_name: str) -> bool:
    """Raises AssertionError if ``is_type(instance, the_class)``."""
    if is_type(instance, the_class):
        raise AssertionError(f"{instance_var_name} should not be an instance of "
                             f"{the_class.__name__} but is {type(instance)}")
    return True
