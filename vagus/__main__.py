from vagus.cli import main

raise SystemExit(main())
