from tests.lanes import skip_files_without

pytest_pycollect_makemodule = skip_files_without("numpy", "PIL", "sklearn")
