"""nbgrader preprocessors the course adds to feedback generation."""

from nbgrader.preprocessors import NbGraderPreprocessor

NOTE = "(traceback hidden in feedback: run the visible checks in your notebook to see where it failed)"


class HideTestTracebacks(NbGraderPreprocessor):
    """Reduce errors in test cells to their type and message.

    ``ClearHiddenTests`` removes hidden tests from a cell's source, but an error's traceback quotes the source
    lines around the failure — hidden ones included. The message (``AssertionError: expected 8 frames``) is
    written for students and stays.
    """

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("grade"):
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    output["traceback"] = [f"{output.get('ename', 'Error')}: {output.get('evalue', '')}", NOTE]
        return cell, resources
