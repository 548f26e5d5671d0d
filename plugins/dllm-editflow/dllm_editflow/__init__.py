"""dllm-editflow: Edit Flows (insert, delete, substitute) over any backbone family in the registry.

Importing this package is cheap; backbones are found through the dllm registry, never imported
from another plugin.
"""

__version__ = "0.1.0"
